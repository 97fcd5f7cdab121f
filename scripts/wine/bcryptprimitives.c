/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Go test
 * binaries under Wine releases that lack it (Debian 12's Wine 8.0). The Go
 * runtime since Go 1.24 loads the DLL at start-up for ProcessPrng, its
 * source of random bytes, and stops when it is missing. This one answers
 * ProcessPrng with RtlGenRandom (advapi32's SystemFunction036), which Wine
 * has. scripts/wine-test.sh builds it with the mingw-w64 cross compiler
 * into a Wine prefix of its own; nothing else uses it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
	while (length > 0) {
		ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		length -= n;
	}
	return TRUE;
}
