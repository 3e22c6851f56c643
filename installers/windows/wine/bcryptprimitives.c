/* bcryptprimitives.dll for Wine 8 test prefixes only: never shipped in the installer.
 *
 * Rust 1.78+ code (pydantic-core, cryptography, solders) gets its random bytes from
 * bcryptprimitives!ProcessPrng, which every Windows 10/11 has but Wine gained only in 9.x; without
 * it those extension modules fail to load ("DLL load failed ... Module not found"). This shim
 * forwards to advapi32!SystemFunction036 (RtlGenRandom), which Wine 8 implements.
 * scripts/build-windows.sh compiles it with Debian's x86_64-w64-mingw32-gcc into the prefix.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}
