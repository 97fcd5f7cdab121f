//go:build purego

package cpuid

// asmBuilt says whether package asm has its assembly in this build: the
// purego tag removes every assembly file, so there is no double-word CAS.
const asmBuilt = false
