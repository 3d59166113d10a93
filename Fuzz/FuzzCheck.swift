/// libFuzzer target: img check (no repair) of an untrusted file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheck(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzBodies.withFile(data, size) { FuzzBodies.check(path: $0) }
    return 0
}
