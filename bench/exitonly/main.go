// Command exit-only is the yardstick of the bound fast path in make bench:
// a Go program that does nothing but exit, built the way the agent is.
package main

func main() {}
