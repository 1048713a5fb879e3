#ifndef C_MARIADB_SHIM_H
#define C_MARIADB_SHIM_H

#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1 /* explicit_bzero */
#endif
#include <string.h>
#include <mysql.h>

/// Zeroes a buffer that held a bound value (possibly a secret) before it is freed; unlike memset, the
/// compiler may not drop it as a dead store.
static inline void cmariadb_wipe(void *buffer, size_t length) {
#if defined(__APPLE__)
    memset_s(buffer, length, 0, length);
#else
    explicit_bzero(buffer, length);
#endif
}

#endif
