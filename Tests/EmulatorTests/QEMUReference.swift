import Foundation

/// Boots an image in qemu-system-x86_64 (TCG, no display) and watches the text screen
/// (dumped with the monitor's pmemsave), COM1 and the debug console until a marker shows.
enum QEMUReference {
    struct Result {
        var found: Bool
        var seconds: Double
        var screen: String
        var serial: String
    }

    static func boot(image: URL, floppy: Bool, marker: String, timeout: Double = 60, in dir: URL) throws -> Result {
        let serial = dir.appendingPathComponent("qemu-serial.txt"), debugcon = dir.appendingPathComponent("qemu-debugcon.txt")
        let vga = dir.appendingPathComponent("qemu-vga.bin")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let drive = floppy ? "if=floppy,format=raw,file=\(image.path)" : "if=ide,format=raw,file=\(image.path)"
        p.arguments = ["qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-m", "32", "-no-reboot",
                       "-drive", drive + ",snapshot=on", "-serial", "file:\(serial.path)", "-debugcon", "file:\(debugcon.path)",
                       "-monitor", "stdio", "-boot", floppy ? "a" : "c"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let start = Date()
        try p.run()
        defer {
            try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8))
            p.waitUntilExit()
        }
        var screen = "", serialText = ""
        while Date().timeIntervalSince(start) < timeout && p.isRunning {
            try? FileManager.default.removeItem(at: vga)
            try input.fileHandleForWriting.write(contentsOf: Data("pmemsave 0xb8000 4000 \"\(vga.path)\"\n".utf8))
            var waited = 0
            while !FileManager.default.fileExists(atPath: vga.path) && waited < 100 { usleep(10_000); waited += 1 }
            usleep(20_000)
            screen = text(of: (try? Data(contentsOf: vga)) ?? Data())
            serialText = ((try? String(contentsOf: serial, encoding: .utf8)) ?? "") + ((try? String(contentsOf: debugcon, encoding: .utf8)) ?? "")
            if screen.contains(marker) || serialText.contains(marker) {
                return Result(found: true, seconds: Date().timeIntervalSince(start), screen: screen, serial: serialText)
            }
            usleep(50_000)
        }
        return Result(found: false, seconds: Date().timeIntervalSince(start), screen: screen, serial: serialText)
    }

    /// Character bytes of the 80x25 cells, one line per row.
    private static func text(of vga: Data) -> String {
        let bytes = [UInt8](vga)
        var lines: [String] = []
        for row in 0..<25 {
            var line = ""
            for col in 0..<80 where (row * 80 + col) * 2 < bytes.count {
                let c = bytes[(row * 80 + col) * 2]
                line.append(c >= 0x20 && c < 0x7F ? Character(Unicode.Scalar(c)) : " ")
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
