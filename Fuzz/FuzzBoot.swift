/// libFuzzer target: img boot's disk path: boot an untrusted image with a small instruction budget.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBoot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzBodies.withFile(data, size) { FuzzBodies.boot(path: $0) }
    return 0
}
