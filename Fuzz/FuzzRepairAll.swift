/// libFuzzer target: img check -r all on a copy of an untrusted file, then a second check.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRepairAll(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzBodies.withFile(data, size) { FuzzBodies.repairAll(path: $0) }
    return 0
}
