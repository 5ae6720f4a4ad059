// SPDX-License-Identifier: MIT
#include "fastpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fastpath.skel.h"

/* Where the programs sit among the ports' tc ingress filters: the handle
 * and priority a successor looks for ("c11c"). */
#define TC_HANDLE 0xc11cu
#define TC_PRIO 0xc11cu

enum { MAP_FLOWS, MAP_STATE, MAP_STATS, MAP_N };

static const char *const map_names[MAP_N] = { "cn_flows", "cn_state",
					      "cn_stats" };

/* A worker's close events. */
struct fastpath_ring {
	int fd;
	struct ring_buffer *rb;
	int (*fn)(void *ctx, const struct cn_fast_close *ev);
	void *ctx;
};

struct fastpath {
	struct fastpath_bpf *skel;
	struct fastpath_ring ring[CN_MAX_WORKERS];
	struct fastpath_config cfg;
	int map_fd[MAP_N];
	int ncpu;
	struct cn_fast_stats *percpu;
	struct cn_fast_state st;
	bool orphaned; /* a predecessor's programs, which could not be opened */
	/* The counters as this daemon found them: a predecessor's maps
	 * carry its figures, which are not this daemon's. */
	struct cn_fast_stats base;
};

static void stats_sum(struct fastpath *fp, struct cn_fast_stats *out)
{
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fp->map_fd[MAP_STATS], &zero, fp->percpu))
		return;
	for (int c = 0; c < fp->ncpu; c++) {
		const __u64 *in = (const __u64 *)&fp->percpu[c];
		__u64 *sum = (__u64 *)out;

		for (size_t i = 0; i < sizeof(*out) / sizeof(__u64); i++)
			sum[i] += in[i];
	}
}

static void close_fds(int *fd, int n)
{
	for (int i = 0; i < n; i++) {
		if (fd[i] >= 0)
			close(fd[i]);
		fd[i] = -1;
	}
}

static bool map_fits(int fd, const struct bpf_map *like)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       info.type == bpf_map__type(like) &&
	       info.key_size == bpf_map__key_size(like) &&
	       info.value_size == bpf_map__value_size(like);
}

/*
 * The maps of the programs a predecessor left on the client port, when
 * they speak this ABI and role. A tc filter is a property of the device,
 * so this works from any mount namespace; opening objects by id needs
 * CAP_SYS_ADMIN.
 */
static int find_maps(const struct fastpath *fp, int fd[MAP_N])
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook,
			    .ifindex = (int)fp->cfg.ifindex[CN_CLIENT],
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO);
	const struct bpf_map *like[MAP_N] = { fp->skel->maps.cn_flows,
					      fp->skel->maps.cn_state,
					      fp->skel->maps.cn_stats };
	struct bpf_prog_info pinfo = { 0 };
	struct cn_fast_state st;
	__u32 ids[16], len = sizeof(pinfo), zero = 0;
	int prog, err = -ENOENT;

	if (bpf_tc_query(&hook, &opts))
		return -ENOENT;
	/* There are programs: -EPERM here means they are there and cannot
	 * be opened (no CAP_SYS_ADMIN). */
	if ((prog = bpf_prog_get_fd_by_id(opts.prog_id)) < 0)
		return errno == EPERM || errno == EACCES ? -EPERM : -ENOENT;
	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (__u64)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog, &pinfo, &len)) {
		err = -errno;
		goto out;
	}
	for (__u32 i = 0; i < pinfo.nr_map_ids && i < 16; i++) {
		struct bpf_map_info minfo = { 0 };
		__u32 mlen = sizeof(minfo);
		int m = bpf_map_get_fd_by_id(ids[i]);

		if (m < 0)
			continue;
		if (bpf_obj_get_info_by_fd(m, &minfo, &mlen)) {
			close(m);
			continue;
		}
		for (int k = 0; k < MAP_N; k++)
			if (fd[k] < 0 && !strcmp(minfo.name, map_names[k]) &&
			    map_fits(m, like[k])) {
				fd[k] = m;
				m = -1;
				break;
			}
		if (m >= 0)
			close(m);
	}
	err = -ENOENT;
	for (int k = 0; k < MAP_N; k++)
		if (fd[k] < 0)
			goto out;
	if (bpf_map_lookup_elem(fd[MAP_STATE], &zero, &st) ||
	    st.abi != CN_FAST_ABI || st.role != (__u32)fp->cfg.role)
		goto out;
	err = 0;
out:
	if (err)
		close_fds(fd, MAP_N);
	close(prog);
	return err;
}

static int put_state(struct fastpath *fp)
{
	__u32 zero = 0;

	return bpf_map_update_elem(fp->map_fd[MAP_STATE], &zero, &fp->st,
				   BPF_ANY) ? -errno : 0;
}

static int attach(const struct fastpath *fp, enum cn_side side, int prog_fd)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook,
			    .ifindex = (int)fp->cfg.ifindex[side],
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

int fastpath_open(struct fastpath **out, const struct fastpath_config *cfg,
		  bool *adopted, const char **errmsg)
{
	struct fastpath *fp = calloc(1, sizeof(*fp));
	struct bpf_map *maps[MAP_N];
	int err = -ENOMEM;

	*adopted = false;
	if (!fp) {
		*errmsg = "out of memory";
		return -ENOMEM;
	}
	fp->cfg = *cfg;
	for (int k = 0; k < MAP_N; k++)
		fp->map_fd[k] = -1;
	for (int i = 0; i < CN_MAX_WORKERS; i++)
		fp->ring[i].fd = -1;
	if (!cfg->workers || cfg->workers > CN_MAX_WORKERS) {
		*errmsg = "bad worker count";
		err = -EINVAL;
		goto fail;
	}
	libbpf_set_print(NULL);
	if (!(fp->skel = fastpath_bpf__open())) {
		err = -errno;
		*errmsg = "opening the BPF object failed";
		goto fail;
	}
	maps[MAP_FLOWS] = fp->skel->maps.cn_flows;
	maps[MAP_STATE] = fp->skel->maps.cn_state;
	maps[MAP_STATS] = fp->skel->maps.cn_stats;
	if ((err = bpf_map__set_max_entries(maps[MAP_FLOWS], cfg->max_flows))) {
		*errmsg = "sizing the flow map failed";
		goto fail;
	}
	fp->skel->rodata->cn_workers = cfg->workers;
	if ((err = find_maps(fp, fp->map_fd)) == -EPERM)
		fp->orphaned = true;
	if (!err) {
		for (int k = 0; k < MAP_N; k++)
			if ((err = bpf_map__reuse_fd(maps[k], fp->map_fd[k]))) {
				*errmsg = "reusing the maps on the ports failed";
				goto fail;
			}
		*adopted = true;
	}
	if ((err = fastpath_bpf__load(fp->skel))) {
		/* EPERM: no CAP_BPF. EACCES: the verifier's no (they load
		 * on 6.1 and later, without CAP_PERFMON too). */
		*errmsg = err == -EACCES ?
				  "the kernel's verifier refused the BPF programs "
				  "(they need Linux 6.1 or later)" :
				  "loading the BPF programs failed (needs CAP_BPF, "
				  "and CAP_SYS_ADMIN to find a predecessor's)";
		goto fail;
	}
	if (!*adopted)
		for (int k = 0; k < MAP_N; k++)
			if ((fp->map_fd[k] = dup(bpf_map__fd(maps[k]))) < 0) {
				err = -errno;
				*errmsg = "dup of a map fd failed";
				goto fail;
			}
	for (__u32 i = 0; i < cfg->workers; i++) {
		int outer = bpf_map__fd(fp->skel->maps.cn_events);

		if ((fp->ring[i].fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "cn_ring", 0,
						     0, CN_EVENTS_BYTES, NULL)) < 0 ||
		    bpf_map_update_elem(outer, &i, &fp->ring[i].fd, BPF_ANY)) {
			err = -errno;
			*errmsg = "creating the event rings failed";
			goto fail;
		}
	}
	fp->ncpu = libbpf_num_possible_cpus();
	if (fp->ncpu <= 0 ||
	    !(fp->percpu = calloc((size_t)fp->ncpu, sizeof(*fp->percpu)))) {
		err = fp->ncpu <= 0 ? fp->ncpu : -ENOMEM;
		*errmsg = "counting CPUs failed";
		goto fail;
	}
	stats_sum(fp, &fp->base);
	/* Not alive yet: until the daemon's sockets listen, the programs
	 * carry on as they would without it. */
	fp->st = (struct cn_fast_state){
		.abi = CN_FAST_ABI,
		.ifindex = { cfg->ifindex[CN_CLIENT], cfg->ifindex[CN_SERVER] },
		.role = (__u32)cfg->role,
		.timeout_ns = cfg->timeout_ns,
	};
	if ((err = put_state(fp))) {
		*errmsg = "writing the state map failed";
		goto fail;
	}
	if ((err = attach(fp, CN_CLIENT,
			  bpf_program__fd(fp->skel->progs.cn_tc_client))) ||
	    (err = attach(fp, CN_SERVER,
			  bpf_program__fd(fp->skel->progs.cn_tc_server)))) {
		*errmsg = "attaching the tc programs failed (needs CAP_NET_ADMIN)";
		goto fail;
	}
	*out = fp;
	return 0;
fail:
	fastpath_close(fp);
	return err < 0 ? err : -EINVAL;
}

bool fastpath_orphaned(const struct fastpath *fp)
{
	return fp->orphaned;
}

static int detach_one(unsigned ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE,
			    .priority = TC_PRIO);
	int err;

	if (bpf_tc_query(&hook, &opts))
		return 0;
	opts.prog_fd = opts.prog_id = opts.flags = 0;
	err = bpf_tc_detach(&hook, &opts);
	return err ? err : 1;
}

int fastpath_remove(const unsigned ifindex[2])
{
	int n = 0, err;

	libbpf_set_print(NULL);
	for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
		if ((err = detach_one(ifindex[s])) < 0)
			return err;
		n += err;
	}
	return n;
}

int fastpath_fanout(const struct fastpath *fp, enum cn_side side)
{
	return bpf_program__fd(side == CN_CLIENT ? fp->skel->progs.cn_fanout_client :
						   fp->skel->progs.cn_fanout_server);
}

int fastpath_beat(struct fastpath *fp, uint64_t now_ns)
{
	fp->st.beat_ns = now_ns;
	return put_state(fp);
}

int fastpath_put(struct fastpath *fp, const struct cn_flow_key *key,
		 const struct cn_fast_flow *rec, bool first,
		 const struct cn_fast_flow *known)
{
	struct cn_fast_flow now, out = *rec;

	if (!known && !first &&
	    !bpf_map_lookup_elem(fp->map_fd[MAP_FLOWS], key, &now))
		known = &now;
	if (known)
		for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
			out.dir[s].frames = known->dir[s].frames;
			out.dir[s].bytes = known->dir[s].bytes;
		}
	return bpf_map_update_elem(fp->map_fd[MAP_FLOWS], key, &out, BPF_ANY) ?
		       -errno : 0;
}

void fastpath_del(struct fastpath *fp, const struct cn_flow_key *key)
{
	bpf_map_delete_elem(fp->map_fd[MAP_FLOWS], key);
}

bool fastpath_get(struct fastpath *fp, const struct cn_flow_key *key,
		  struct cn_fast_flow *rec)
{
	return !bpf_map_lookup_elem(fp->map_fd[MAP_FLOWS], key, rec);
}

unsigned fastpath_each(struct fastpath *fp,
		       int (*fn)(void *ctx, const struct cn_flow_key *key,
				 const struct cn_fast_flow *rec),
		       void *ctx)
{
	int fd = fp->map_fd[MAP_FLOWS];
	struct cn_flow_key cur, next;
	struct cn_fast_flow rec;
	/* A hash map walked while it changes may restart: bounded. */
	uint64_t left = 2ull * fp->cfg.max_flows + 16;
	unsigned seen = 0;
	bool more = !bpf_map_get_next_key(fd, NULL, &cur);

	while (more && left--) {
		/* The next key before this one may go. */
		more = !bpf_map_get_next_key(fd, &cur, &next);
		if (!bpf_map_lookup_elem(fd, &cur, &rec)) {
			seen++;
			if (fn(ctx, &cur, &rec))
				bpf_map_delete_elem(fd, &cur);
		}
		cur = next;
	}
	return seen;
}

static int close_sample(void *ctx, void *data, size_t len)
{
	struct fastpath_ring *r = ctx;

	/* The ring holds what this load's programs wrote: one size. */
	if (len < sizeof(struct cn_fast_close))
		return 0;
	return r->fn(r->ctx, data);
}

int fastpath_closes_open(struct fastpath *fp, unsigned worker,
			 int (*fn)(void *ctx, const struct cn_fast_close *ev),
			 void *ctx)
{
	struct fastpath_ring *r;

	if (worker >= fp->cfg.workers)
		return -EINVAL;
	r = &fp->ring[worker];
	r->fn = fn;
	r->ctx = ctx;
	r->rb = ring_buffer__new(r->fd, close_sample, r, NULL);
	return r->rb ? ring_buffer__epoll_fd(r->rb) : -errno;
}

int fastpath_closes_read(struct fastpath *fp, unsigned worker)
{
	return ring_buffer__consume(fp->ring[worker].rb);
}

uint64_t fastpath_closes_lost(const struct fastpath *fp)
{
	return __atomic_load_n(&fp->skel->bss->cn_events_lost, __ATOMIC_RELAXED);
}

void fastpath_stats(struct fastpath *fp, struct cn_fast_stats *out)
{
	const __u64 *base = (const __u64 *)&fp->base;
	__u64 *v = (__u64 *)out;

	stats_sum(fp, out);
	for (size_t i = 0; i < sizeof(*out) / sizeof(__u64); i++)
		v[i] -= base[i];
}

int fastpath_detach(struct fastpath *fp)
{
	int n = fastpath_remove(fp->cfg.ifindex);

	return n < 0 ? n : 0;
}

void fastpath_close(struct fastpath *fp)
{
	if (!fp)
		return;
	close_fds(fp->map_fd, MAP_N);
	for (int i = 0; i < CN_MAX_WORKERS; i++) {
		ring_buffer__free(fp->ring[i].rb);
		if (fp->ring[i].fd >= 0)
			close(fp->ring[i].fd);
	}
	fastpath_bpf__destroy(fp->skel);
	free(fp->percpu);
	free(fp);
}
