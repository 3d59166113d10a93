import Foundation

/// The option matrix of the foundation interop tests: every combination QEMU accepts of
/// compat × cluster size × refcount width × extended L2 × compression type.
struct Qcow2Variant: CustomStringConvertible {
    var compat: String
    var clusterSize: Int
    var refcountBits: Int
    var extendedL2: Bool
    var compression: String

    var createOptions: String {
        "compat=\(compat),cluster_size=\(clusterSize),refcount_bits=\(refcountBits),"
            + "extended_l2=\(extendedL2 ? "on" : "off"),compression_type=\(compression)"
    }

    var description: String { createOptions }

    /// Guest bytes one L2 table maps.
    var l2Coverage: Int { clusterSize / (extendedL2 ? 16 : 8) * clusterSize }

    /// Small enough to convert and compare in full, large enough to cross an L2 table
    /// boundary where tables are small.
    var virtualSize: Int { max(l2Coverage <= 16 << 20 ? 2 * l2Coverage : 0, 8 << 20, 24 * clusterSize) }

    static var all: [Qcow2Variant] {
        var result: [Qcow2Variant] = []
        for compat in ["0.10", "1.1"] {
            for cs in [512, 4096, 65536, 2 << 20] {
                for rb in [1, 16, 64] {
                    for ext in [false, true] {
                        for comp in ["zlib", "zstd"] {
                            // Combinations QEMU itself refuses.
                            if compat == "0.10" && (rb != 16 || ext || comp != "zlib") { continue }
                            if ext && cs < 16384 { continue }
                            result.append(Qcow2Variant(compat: compat, clusterSize: cs, refcountBits: rb,
                                                       extendedL2: ext, compression: comp))
                        }
                    }
                }
            }
        }
        return result
    }

    /// qemu-io commands covering aligned, unaligned, cross-cluster, zero, discard and
    /// compressed writes, and refcount-structure growth (many clusters at narrow widths).
    var workload: [String] {
        let cs = clusterSize
        var cmds = [
            "write -P 0x11 0 \(cs)",
            "write -P 0x22 \(cs / 2 + 7) 1000",
            "write -P 0x33 \(3 * cs - 100) 300",
            "write -P 0x44 \(5 * cs) \(4 * cs)",
            "write -z \(6 * cs) \(cs)",
            "write -z \(8 * cs + 10) 100",
            "discard \(5 * cs) \(cs)",
            "write -c -P 0x55 \(10 * cs) \(cs)",
            "write -P 0x66 \(10 * cs + 5) 10",
            "write -c -P 0x77 \(12 * cs) \(cs)",
            "write -P 0x88 \(16 * cs + 1024) \(min(3 << 20, virtualSize - 17 * cs - 1024))",
        ]
        if l2Coverage + 2 * cs < virtualSize {
            cmds.append("write -P 0x99 \(l2Coverage - 100) 300")
        }
        return cmds
    }
}
