//go:build !purego

package cpuid

// asmBuilt says whether package asm has its assembly in this build.
const asmBuilt = true
