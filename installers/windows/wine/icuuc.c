/* icuuc.dll for Wine 8 test prefixes only: never shipped in the installer.
 *
 * Qt 6's Qt6Core.dll links the ICU that Windows 10 (1703+) and 11 ship in System32, for its
 * legacy text codecs (ucnv_*) only; Wine 8 has no icuuc.dll, so Qt, and with it the tray app,
 * cannot load at all. This stub offers no converters: ucnv_open fails with U_FILE_ACCESS_ERROR
 * and ucnv_countAvailable is 0, which Qt reports as "codec not available" (UTF-8/16, the only
 * encodings hostapp uses, never reach ICU). scripts/build-windows.sh compiles it with Debian's
 * x86_64-w64-mingw32-gcc into the prefix.
 */
#include <stddef.h>
#include <stdint.h>

#define EXPORT __declspec(dllexport)
enum { U_FILE_ACCESS_ERROR = 4 };

static void *fail(int *err)
{
    if (err && *err <= 0)
        *err = U_FILE_ACCESS_ERROR;
    return NULL;
}

EXPORT void *ucnv_open(const char *name, int *err) { (void)name; return fail(err); }
EXPORT void ucnv_close(void *cnv) { (void)cnv; }
EXPORT void ucnv_reset(void *cnv) { (void)cnv; }
EXPORT int8_t ucnv_getMaxCharSize(const void *cnv) { (void)cnv; return 1; }
EXPORT const char *ucnv_getName(const void *cnv, int *err) { (void)cnv; return fail(err); }
EXPORT void ucnv_getToUCallBack(const void *c, void **a, const void **b) { (void)c; *a = NULL; *b = NULL; }
EXPORT void ucnv_getFromUCallBack(const void *c, void **a, const void **b) { (void)c; *a = NULL; *b = NULL; }
EXPORT void ucnv_setToUCallBack(void *c, void *n, const void *nc, void **o, const void **oc, int *err)
{ (void)c; (void)n; (void)nc; if (o) *o = NULL; if (oc) *oc = NULL; fail(err); }
EXPORT void ucnv_setFromUCallBack(void *c, void *n, const void *nc, void **o, const void **oc, int *err)
{ (void)c; (void)n; (void)nc; if (o) *o = NULL; if (oc) *oc = NULL; fail(err); }
EXPORT void ucnv_cbToUWriteUChars(void *a, const void *s, int32_t l, int32_t o, int *err)
{ (void)a; (void)s; (void)l; (void)o; fail(err); }
EXPORT void ucnv_cbFromUWriteUChars(void *a, const void **s, const void *l, int32_t o, int *err)
{ (void)a; (void)s; (void)l; (void)o; fail(err); }
EXPORT int32_t ucnv_toUCountPending(const void *c, int *err) { (void)c; fail(err); return 0; }
EXPORT int32_t ucnv_fromUCountPending(const void *c, int *err) { (void)c; fail(err); return 0; }
EXPORT const char *ucnv_getStandardName(const char *n, const char *s, int *err) { (void)n; (void)s; return fail(err); }
EXPORT const char *ucnv_getAvailableName(int32_t n) { (void)n; return NULL; }
EXPORT int32_t ucnv_countAvailable(void) { return 0; }
EXPORT void ucnv_toUnicode(void *c, void **t, const void *tl, const char **s, const char *sl, int32_t *o, int8_t f, int *err)
{ (void)c; (void)t; (void)tl; (void)s; (void)sl; (void)o; (void)f; fail(err); }
EXPORT void ucnv_fromUnicode(void *c, char **t, const char *tl, const void **s, const void *sl, int32_t *o, int8_t f, int *err)
{ (void)c; (void)t; (void)tl; (void)s; (void)sl; (void)o; (void)f; fail(err); }
EXPORT void UCNV_FROM_U_CALLBACK_SUBSTITUTE(const void *c, void *a, const void *s, int32_t l, int32_t p, int r, int *err)
{ (void)c; (void)a; (void)s; (void)l; (void)p; (void)r; fail(err); }
EXPORT void UCNV_TO_U_CALLBACK_SUBSTITUTE(const void *c, void *a, const char *s, int32_t l, int r, int *err)
{ (void)c; (void)a; (void)s; (void)l; (void)r; fail(err); }
