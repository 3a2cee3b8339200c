#ifndef CIRCUITRY_SQLITE_SHIM_H
#define CIRCUITRY_SQLITE_SHIM_H

#include <sqlite3.h>

// Swift cannot call C variadic functions, so the few variadic SQLite entry points we need are wrapped here.

/// `sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on, NULL)`: refuse writes that could corrupt the file
/// (writable_schema and the like). https://www.sqlite.org/c3ref/c_dbconfig_defensive.html
static inline int circuitry_sqlite3_enable_defensive(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)0);
}

/// SQLITE_TRANSIENT is a macro over a cast function pointer that Swift cannot import.
static inline sqlite3_destructor_type circuitry_sqlite3_transient(void) {
    return SQLITE_TRANSIENT;
}

#endif
