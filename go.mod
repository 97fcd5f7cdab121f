module github.com/goslub/slub

// go 1.24.0 is the oldest Go that builds, vets and tests the whole module
// (the tests use testing.B.Loop, new in 1.24; a lower line would make vet's
// stdversion check reject them). The library packages alone (alloc, asm,
// cpuid) build with Go 1.22. The requirements are the newest versions that
// ask for no more than 1.24.0, so that depending on this module does not
// raise a program's Go version or its golang.org/x/sys. scripts/test-all.sh
// checks this line with GOTOOLCHAIN=go1.24.0.
go 1.24.0

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794
	github.com/bytedance/gopkg v0.1.4
	github.com/klauspost/cpuid/v2 v2.4.2
	golang.org/x/perf v0.0.0-20250813145418-2f7363a06fe1
	golang.org/x/sys v0.41.0
	gonum.org/v1/plot v0.17.0
	modernc.org/memory v1.12.1
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/text v0.28.0 // indirect
)
