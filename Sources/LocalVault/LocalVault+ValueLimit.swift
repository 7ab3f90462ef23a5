/// One limit on object values for the embedded store and `vault serve`: the engine enforces it,
/// so a value either store accepts, the other accepts too.
extension LocalVault {
    /// The largest object value, in bytes of UTF-8: 1 MiB. `vault serve`'s default request body
    /// limit leaves room for any such value however its JSON escapes it.
    public static let maxValueSize = 1 << 20

    static let valueTooLarge = LocalVaultError(
        .contentTooLarge,
        "the value is larger than \(maxValueSize) bytes (the limit of an object value)"
    )
}
