#if canImport(Glibc)
import Glibc
#endif

/// Whether two paths name the same existing file (same device and inode), so a command
/// about to truncate one can refuse when it is also an input.
func sameFile(_ a: String, _ b: String) -> Bool {
    var x = stat(), y = stat()
    guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
    return x.st_dev == y.st_dev && x.st_ino == y.st_ino
}
