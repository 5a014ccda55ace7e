/* User space of the skeleton fixture, written as libbpf users write it: open the
 * skeleton, set .rodata knobs, load, run programs with BPF_PROG_TEST_RUN, print the
 * globals and the map. Built by the tests with gcc against libbpf, the skeleton header
 * (`bpftool gen skeleton OBJ name skel`) given with -include.
 *
 *   loader [KNOB=VALUE]... --data FILE [--run PROG]...
 *
 * prints "run PROG RETVAL" per run, then "SECTION.VAR=VALUE" lines and "map.totals=N".
 * Exit status: 2 usage, 3 open, 4 load, 5 run, 6 map lookup. Nothing is pinned: the
 * programs and maps go when the process exits (skel__destroy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define KNOBS(X) X(mult) X(mode) X(drop_tag) X(limit) X(rot)

#define OUTPUTS(X)                                                                     \
	X(bss, out_sum) X(bss, xdp_seen) X(bss, out_hash) X(bss, calc_calls)           \
	X(data, runs) X(data, bias) X(data, scale) X(data, shared_total)               \
	X(data_custom, custom_val)                                                     \
	X(rodata, mult) X(rodata, mode) X(rodata, drop_tag) X(rodata, limit) X(rodata, rot) \
	X(rodata, weights[0]) X(rodata, weights[1]) X(rodata, weights[2]) X(rodata, weights[3])

static int set_knob(struct skel *s, const char *name, unsigned long long value)
{
#define SET_KNOB(n)                      \
	if (strcmp(name, #n) == 0) {     \
		s->rodata->n = value;    \
		return 0;                \
	}
	KNOBS(SET_KNOB)
	return -1;
}

static struct bpf_program *find_prog(struct skel *s, const char *name)
{
	if (strcmp(name, "skel_tc") == 0)
		return s->progs.skel_tc;
	if (strcmp(name, "skel_xdp") == 0)
		return s->progs.skel_xdp;
	return NULL;
}

static char packet[4096];

int main(int argc, char **argv)
{
	struct skel *s;
	size_t len = 0;
	__u32 key = 0;
	__u64 total;
	int i, err;

	s = skel__open();
	if (!s) {
		fprintf(stderr, "skel__open: %s\n", strerror(errno));
		return 3;
	}
	for (i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (strcmp(argv[i], "--data") == 0 || strcmp(argv[i], "--run") == 0) {
			i++;
			continue;
		}
		if (!eq) {
			fprintf(stderr, "bad argument %s\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		if (set_knob(s, argv[i], strtoull(eq + 1, NULL, 0))) {
			fprintf(stderr, "no knob %s\n", argv[i]);
			return 2;
		}
	}
	err = skel__load(s);
	if (err) {
		fprintf(stderr, "skel__load: %d\n", err);
		skel__destroy(s);
		return 4;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			FILE *f = fopen(argv[++i], "rb");

			if (!f) {
				fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
				return 2;
			}
			len = fread(packet, 1, sizeof(packet), f);
			fclose(f);
		} else if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) {
			struct bpf_program *prog = find_prog(s, argv[++i]);
			LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet,
				    .data_size_in = len, .repeat = 1);

			if (!prog) {
				fprintf(stderr, "no program %s\n", argv[i]);
				return 2;
			}
			err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
			if (err) {
				fprintf(stderr, "bpf_prog_test_run_opts(%s): %d\n", argv[i], err);
				skel__destroy(s);
				return 5;
			}
			printf("run %s %u\n", argv[i], opts.retval);
		}
	}
#define PRINT_VAR(sec, n) printf(#sec "." #n "=%llu\n", (unsigned long long)s->sec->n);
	OUTPUTS(PRINT_VAR)
	err = bpf_map__lookup_elem(s->maps.totals, &key, sizeof(key), &total, sizeof(total), 0);
	if (err) {
		fprintf(stderr, "bpf_map__lookup_elem(totals): %d\n", err);
		skel__destroy(s);
		return 6;
	}
	printf("map.totals=%llu\n", (unsigned long long)total);
	skel__destroy(s);
	return 0;
}
