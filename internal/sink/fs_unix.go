//go:build unix

package sink

import "syscall"

// openNonblock keeps the open of a FIFO planted under a file's name from blocking until a
// reader comes; regular files ignore it.
const openNonblock = syscall.O_NONBLOCK
