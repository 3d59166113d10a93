import Foundation

/// Paths relative to the repository root, found from this source file's location.
enum TestPaths {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let suite8086 = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/testsuites/8086")
    static let bootData = repoRoot.appendingPathComponent("testdata/boot")
}
