package asm

var (
	PortableCAS      = portableCAS
	PortableLoad     = portableLoad
	HardwareCAS      = cas128
	HardwareCASLocal = cas128Local
	HardwareLoad     = load128
)

// HaveAsm says whether this build has the assembly.
const HaveAsm = haveAsm

// LockStripe takes the portable implementation's mutex for p and returns
// its unlock: while it is held, a CompareAndSwap or Load of p that takes the
// portable path waits, and one that takes the instruction does not.
func LockStripe(p *Pair) (unlock func()) {
	m := stripe(p)
	m.Lock()
	return m.Unlock
}
