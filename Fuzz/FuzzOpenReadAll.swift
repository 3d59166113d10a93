/// libFuzzer target: open an untrusted file as an image and read every cluster with data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenReadAll(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzBodies.withFile(data, size) { FuzzBodies.openReadAll(path: $0) }
    return 0
}
