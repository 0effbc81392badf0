//go:build race

package node_test

// raceEnabled reports whether the tests run under the race detector,
// whose shadow memory makes RSS say nothing about the node's own.
const raceEnabled = true
