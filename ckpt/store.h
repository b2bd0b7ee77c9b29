/*
 * store.h (internal) -- what the engine needs of the checkpoint store
 * beyond the public API (include/repartir/ckpt.h).
 */
#ifndef RP_CKPT_STORE_H
#define RP_CKPT_STORE_H

#include <repartir.h>

/* The store's directory, as given to rp_ckpt_open. */
const char *rp__ckpt_dir(const rp_ckpt *s);
/* Keeps the newest `keep` (>= 1) checkpoints of key, removes the rest and
 * their unreferenced blob files. */
rp_status rp__ckpt_trim(rp_ckpt *s, const char *key, unsigned keep);
/* The newest checkpoint of key: its iteration and when it was saved (Unix
 * ms). RP_ERR_NOT_FOUND when the key has none. */
rp_status rp__ckpt_last(rp_ckpt *s, const char *key, uint64_t *iteration /* OUT */,
                        int64_t *created_ms /* OUT */);

#endif /* RP_CKPT_STORE_H */
