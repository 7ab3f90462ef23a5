/// `withUnsafeBytes` for closures with typed throws: the standard library's versions `rethrows`,
/// which a `throws(EnvelopeCryptoError)` caller cannot propagate.
extension Array where Element == UInt8 {
    package func withBytes<Result>(
        _ body: (UnsafeRawBufferPointer) throws(EnvelopeCryptoError) -> Result
    ) throws(EnvelopeCryptoError) -> Result {
        try withUnsafeBytes { bytes in Swift.Result { () throws(EnvelopeCryptoError) in try body(bytes) } }.get()
    }

    package mutating func withMutableBytes<Result>(
        _ body: (UnsafeMutableRawBufferPointer) throws(EnvelopeCryptoError) -> Result
    ) throws(EnvelopeCryptoError) -> Result {
        try withUnsafeMutableBytes { bytes in Swift.Result { () throws(EnvelopeCryptoError) in try body(bytes) } }.get()
    }
}
