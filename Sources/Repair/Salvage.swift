import ImageFormat

/// Placeholder replaced below.
package enum Salvage {
    package static func run(file: HostFile, log: (String) -> Void) throws {}
}
