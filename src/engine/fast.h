/* SPDX-License-Identifier: MIT */
/*
 * A flow and its kernel fast path record (fast_flow.h), both ways.
 */
#ifndef CN_FAST_H
#define CN_FAST_H

#include "fast_flow.h"
#include "flow_table.h"

struct cn_engine;

/* The record that carries f in the kernel: how to translate it, and
 * everything a successor needs to take it over. */
void cn_fast_export(const struct cn_engine *eng, const struct cn_flow *f,
		    struct cn_fast_flow *rec);
/* Fold what the programs saw (time, how far each end got) into f. */
void cn_fast_fold(struct cn_flow *f, const struct cn_fast_flow *rec,
		  uint64_t now);

/* The engine's calls: refresh before acting on a flow the kernel may
 * have carried, publish after a frame may have changed it, forget when
 * it is freed. */
void sm_fast_refresh(struct cn_engine *eng, struct cn_flow *f, uint64_t now);
/* Refresh, and close the flow here if the record says the programs
 * closed it (its event may still be on the ring, behind this frame);
 * returns whether it did. */
bool sm_fast_sync(struct cn_engine *eng, struct cn_flow *f, uint64_t now);
void sm_fast_publish(struct cn_engine *eng, struct cn_flow *f);
void sm_fast_forget(struct cn_engine *eng, struct cn_flow *f);

#endif
