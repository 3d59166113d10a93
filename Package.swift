// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "img",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "img", targets: ["img"]),
        .library(name: "ImageFormat", targets: ["ImageFormat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"])]),
        .target(name: "CHost"),
        // Release builds skip the runtime exclusivity checks on the I/O hot path (every guest
        // request reads several properties of the image object).
        .target(name: "ImageFormat", dependencies: ["CZlib", "CZstd", "CHost"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        .target(name: "Repair", dependencies: ["ImageFormat"]),
        .target(name: "Emulator", dependencies: ["ImageFormat"], swiftSettings: [.unsafeFlags(["-O", "-enforce-exclusivity=unchecked"])]),
        .executableTarget(name: "img", dependencies: [
            "ImageFormat",
            "Repair",
            "Emulator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ImageFormatTests", dependencies: ["ImageFormat"]),
        .testTarget(name: "InteropTests", dependencies: ["ImageFormat", "img"]),
        .testTarget(name: "RepairTests", dependencies: ["Repair", "ImageFormat"]),
        .testTarget(name: "ReliabilityTests", dependencies: ["ImageFormat", "Repair", "Emulator"]),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "ImageFormat", "CZlib"]),
    ]
)
