/* Plugins that the harness must refuse, each with a clear message at the
 * scenario's `plugin:` key (harness/test/plugin_mp_test.cpp).  One source,
 * built once per defect:
 *   BROKEN_ABI_VERSION  the table says ABI version 999
 *   BROKEN_NO_ENTRY     the entry function is exported under another name
 *   BROKEN_SMALL_TABLE  the table's size field is smaller than version 1's
 *   BROKEN_NULL_MEMBER  a right-sized version-1 table without its functions
 * No function of the table is ever called: the loader refuses it first. */
#include <stddef.h>

#include "ipctorture/plugin.h"

static ipctorture_plugin g_table;

#if defined(BROKEN_NO_ENTRY)
IPCTORTURE_PLUGIN_EXPORT const ipctorture_plugin* ipctorture_plugin_v0(void) {
#else
IPCTORTURE_PLUGIN_EXPORT const ipctorture_plugin* ipctorture_plugin_v1(void) {
#endif
    g_table.abi_version = IPCTORTURE_PLUGIN_ABI_VERSION;
    g_table.size = sizeof(ipctorture_plugin);
    g_table.name = "broken";
    g_table.summary = "a plugin the loader must refuse";
#if defined(BROKEN_ABI_VERSION)
    g_table.abi_version = 999;
#elif defined(BROKEN_SMALL_TABLE)
    g_table.size = (uint32_t)offsetof(ipctorture_plugin, validate);
#endif
    return &g_table;
}
