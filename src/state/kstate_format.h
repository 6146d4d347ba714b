/*
 * kstate_format.h - the byte format of a keyed state snapshot, shared by its
 * writer (kstate_snapshot.c) and reader (kstate_restore.c). README.md has
 * the same layout in prose.
 *
 * Little-endian, no alignment, integers fixed-width:
 *
 *   header     magic "FLKSNAP\0", u32 format version, u32 flags (0),
 *              u32 max parallelism, u32 first key group, u32 last key group,
 *              u32 number of states, i64 view time (the clock when the view
 *              was taken; entries expired then are left out)
 *   states     per state: u32 name length, name, u8 kind, u8 ttl update,
 *              u16 0, i64 ttl ms, then schemas: value; map key (MAP);
 *              accumulator and result (AGGREGATING). A schema: u32 field
 *              count, per field u8 type, u32 name length, name
 *   key groups per key group of first..last, a block:
 *                u32 key group, u32 number of states, then per state
 *                u32 entry count and the entries:
 *                  u32 key length, u32 namespace length, u64 key hash,
 *                  i64 deadline (INT64_MAX: none), key, namespace, and
 *                  VALUE / REDUCING: the row; AGGREGATING: the accumulator
 *                  row; LIST: u32 element count, u32 bytes, the rows;
 *                  MAP: u32 map entry count, per map entry i64 deadline,
 *                  map key row, value row
 *                then u32 timer count, per timer u8 domain, i64 time,
 *                u64 key hash, u32 key length, u32 namespace length, key,
 *                namespace (per domain in (time, registration) order)
 *   index      per key group of first..last: u64 offset, u64 length, u64
 *              xxh64 of its block
 *   trailer    u64 offset of the first block (end of the state
 *              descriptors), u64 offset of the index, u64 xxh64 of the
 *              header and descriptors followed by the index and these two
 *              fields, end magic "FLKSEND\0"
 *
 * A restore checks the trailer and the meta checksum, then the blocks of
 * the key groups it takes, so any flipped or missing byte it reads is
 * FL_EFORMAT; rows are validated against their schemas as well.
 */
#ifndef FL_STATE_KSTATE_FORMAT_H
#define FL_STATE_KSTATE_FORMAT_H

#include <stdint.h>

#define FL__SNAP_MAGIC      "FLKSNAP" /* 8 bytes with its NUL */
#define FL__SNAP_END_MAGIC  "FLKSEND"
#define FL__SNAP_VERSION    1u
#define FL__SNAP_HEADER     40u /* bytes */
#define FL__SNAP_TRAILER    32u
#define FL__SNAP_INDEX_ITEM 24u
#define FL__SNAP_ENTRY_HEAD 24u /* klen, nslen, key hash, deadline */
#define FL__SNAP_TIMER_HEAD 25u /* domain, time, key hash, klen, nslen */

#endif
