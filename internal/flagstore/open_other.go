//go:build !unix

package flagstore

// openNoFollow: no such flags here; openRegular's Lstat and Stat checks
// stand alone.
const openNoFollow = 0
