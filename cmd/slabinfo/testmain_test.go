package main

import (
	"testing"

	"github.com/goslub/slub/internal/envlog"
)

// TestMain tells go test which environment variables the module reads at
// start-up, so that a run is not answered from the cache of a run made
// with other values.
func TestMain(m *testing.M) { envlog.Main(m) }
