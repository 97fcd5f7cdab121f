module github.com/goslub/slub

go 1.26.0

require (
	github.com/bytedance/gopkg v0.1.4 // indirect
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da // indirect
	golang.org/x/sys v0.50.0 // indirect
	modernc.org/memory v1.12.1 // indirect
)
