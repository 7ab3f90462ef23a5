/*
 * The floor under recording events, for Benchmarks/compare: what one durable group commit of
 * `vault.dek.read` events costs SQLite itself, from C, with no server, no thread hop and no Swift.
 * It appends to the `events` table of a real store made by `vault serve` (a copy: its schema and
 * indexes, and a stored event's data as the payload), with the statements SQLiteStorage+Events.swift
 * runs, in WAL mode with synchronous = FULL as vault serve does: BEGIN IMMEDIATE, BATCH inserts, the
 * chain head upsert, COMMIT (one fdatasync).
 *
 * Usage: sqlite_commit STORE SECONDS BATCH...
 * Prints `sqlite-commit BATCH CPU_US_PER_COMMIT WALL_US_PER_COMMIT` per batch size.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double monotonic_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void check(sqlite3 *db, int status, const char *what) {
    if (status != SQLITE_OK && status != SQLITE_DONE && status != SQLITE_ROW) {
        fprintf(stderr, "sqlite_commit: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void run(sqlite3 *db, const char *sql) { check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql); }

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sqlite_commit STORE SECONDS BATCH...\n");
        return 2;
    }
    double seconds = atof(argv[2]);
    sqlite3 *db;
    check(db, sqlite3_open(argv[1], &db), "open");
    run(db, "PRAGMA journal_mode = WAL");
    run(db, "PRAGMA synchronous = FULL");

    /* A stored event's data, environment and organization: the payload of every row appended. */
    sqlite3_stmt *sample;
    check(db, sqlite3_prepare_v2(db, "SELECT environment_id, data, organization_id, hash, sequence FROM events "
                                     "ORDER BY sequence DESC LIMIT 1", -1, &sample, NULL), "select");
    if (sqlite3_step(sample) != SQLITE_ROW) {
        fprintf(stderr, "sqlite_commit: the store holds no event to copy\n");
        return 1;
    }
    char *environment = strdup((const char *)sqlite3_column_text(sample, 0));
    char *data = strdup((const char *)sqlite3_column_text(sample, 1));
    char *organization = strdup((const char *)sqlite3_column_text(sample, 2));
    char *hash = strdup((const char *)sqlite3_column_text(sample, 3));
    long long sequence = sqlite3_column_int64(sample, 4);
    sqlite3_finalize(sample);

    sqlite3_stmt *insert, *upsert;
    check(db, sqlite3_prepare_v2(db, "INSERT INTO events (environment_id, sequence, id, type, data, created_at, "
                                     "organization_id, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 -1, &insert, NULL), "prepare insert");
    check(db, sqlite3_prepare_v2(db, "INSERT INTO event_chain_heads (environment_id, sequence, hash) VALUES (?, ?, ?) "
                                     "ON CONFLICT (environment_id) DO UPDATE SET sequence = excluded.sequence, "
                                     "hash = excluded.hash", -1, &upsert, NULL), "prepare upsert");
    for (int argument = 3; argument < argc; argument++) {
        int batch = atoi(argv[argument]);
        long commits = 0;
        double start = monotonic_seconds(), cpu_start = cpu_seconds();
        while (monotonic_seconds() - start < seconds) {
            run(db, "BEGIN IMMEDIATE");
            for (int row = 0; row < batch; row++) {
                char id[40];
                long long now_ms = (long long)(monotonic_seconds() * 1000);
                sequence++;
                /* Time-ordered like the ULIDs vault serve makes; unique through the sequence. */
                snprintf(id, sizeof id, "event_%013lld%013lld", now_ms, sequence);
                sqlite3_bind_text(insert, 1, environment, -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert, 2, sequence);
                sqlite3_bind_text(insert, 3, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert, 4, "vault.dek.read", -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, 5, data, -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert, 6, now_ms);
                sqlite3_bind_text(insert, 7, organization, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, 8, hash, -1, SQLITE_STATIC);
                sqlite3_bind_text(insert, 9, hash, -1, SQLITE_STATIC);
                check(db, sqlite3_step(insert), "insert");
                sqlite3_reset(insert);
            }
            sqlite3_bind_text(upsert, 1, environment, -1, SQLITE_STATIC);
            sqlite3_bind_int64(upsert, 2, sequence);
            sqlite3_bind_text(upsert, 3, hash, -1, SQLITE_STATIC);
            check(db, sqlite3_step(upsert), "upsert");
            sqlite3_reset(upsert);
            run(db, "COMMIT");
            commits++;
        }
        double wall = monotonic_seconds() - start, cpu = cpu_seconds() - cpu_start;
        printf("sqlite-commit %d %.1f %.1f\n", batch, cpu / commits * 1e6, wall / commits * 1e6);
    }
    sqlite3_finalize(insert);
    sqlite3_finalize(upsert);
    sqlite3_close(db);
    return 0;
}
