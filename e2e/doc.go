// Package e2e holds the end-to-end tests: the real bindpay-agent binary,
// built from cmd/agent, drives a simulated modem over a pty (through the same
// serial code as on a terminal) while the simulated network plays the service
// platform, OSS, SMS platform and the user's phone.
package e2e
