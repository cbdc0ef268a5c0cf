//go:build !unix

package sink

const openNonblock = 0
