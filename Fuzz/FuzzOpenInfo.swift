/// libFuzzer target: open an untrusted file as an image and gather what `img info` shows.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenInfo(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzBodies.withFile(data, size) { FuzzBodies.openInfo(path: $0) }
    return 0
}
