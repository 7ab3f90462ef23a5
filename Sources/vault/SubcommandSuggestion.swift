import ArgumentParser

/// "did you mean 'encrypt'?" for a mistyped subcommand: ArgumentParser suggests options only.
enum SubcommandSuggestion {
    /// The hint for `arguments` (without the program name), or nil when every word up to the
    /// first option names a subcommand, or none is close (at most 2 edits, fewer for short names).
    static func hint(for arguments: [String], root: any ParsableCommand.Type = VaultCommand.self) -> String? {
        var command = root
        var path = [root._commandName]
        for word in arguments {
            let subcommands = command.configuration.subcommands
            guard !word.hasPrefix("-"), !subcommands.isEmpty else { return nil }
            if let next = subcommands.first(where: { names(of: $0).contains(word) }) {
                command = next
                path.append(next._commandName)
                continue
            }
            let scored = subcommands.map { ($0._commandName, editDistance(word, $0._commandName)) }
            guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= min(2, max(1, best.0.count / 3)) else {
                return nil
            }
            return "did you mean '\((path + [best.0]).joined(separator: " "))'?"
        }
        return nil
    }

    private static func names(of command: any ParsableCommand.Type) -> [String] {
        [command._commandName] + command.configuration.aliases
    }

    /// The optimal string alignment distance: insertions, deletions, substitutions and swaps of
    /// two neighbouring characters (the commonest typo, "encrpyt"), each one edit.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let (a, b) = (Array(lhs), Array(rhs))
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var distance = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { distance[i][0] = i }
        for j in 0...b.count { distance[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                distance[i][j] = min(distance[i - 1][j] + 1, distance[i][j - 1] + 1, distance[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    distance[i][j] = min(distance[i][j], distance[i - 2][j - 2] + 1)
                }
            }
        }
        return distance[a.count][b.count]
    }
}
