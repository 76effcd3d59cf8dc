/// An argument check that stays on in every build and says what is wrong.
///
/// Swift's `precondition` is removed by `-Ounchecked` and, under `-O`, traps without printing
/// its message; a wrong shape reaching a kernel is then an out-of-bounds read or write, or a
/// trap nobody can read. Every public entry point checks its arguments with `check` instead:
/// the message (op or layer name, expected and received shapes) goes to stderr through
/// `fatalError`, which no optimization level removes. The message is built only on failure.
@inlinable
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                  file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { checkFailed(message(), file: file, line: line) }
}

/// Out of line, so that the inlined `check` is a compare and a branch.
@usableFromInline @inline(never)
func checkFailed(_ message: String, file: StaticString, line: UInt) -> Never {
    fatalError(message, file: file, line: line)
}
