/* libbpf 1.x (bpf/libbpf.h, bpf/bpf.h), linux/bpf.h's bpf_prog_info and libc's vsnprintf:
   what --verify calls. Kept out of decl/ (that directory is libLLVM's); layouts as in
   libbpf 1.1 and the Linux 6.x UAPI (sizeof bpf_prog_info 232, bpf_object_open_opts 80). */
struct bpf_object;
struct bpf_program;
struct bpf_map;

struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    bool relaxed_maps;
    const char *pin_root_path;
    uint32_t removed_attach_prog_fd;
    const char *kconfig;
    const char *btf_custom_path;
    char *kernel_log_buf;
    size_t kernel_log_size;
    uint32_t kernel_log_level;
};

struct bpf_prog_info {
    uint32_t type;
    uint32_t id;
    uint8_t tag[8];
    uint32_t jited_prog_len;
    uint32_t xlated_prog_len;
    uint64_t jited_prog_insns;
    uint64_t xlated_prog_insns;
    uint64_t load_time;
    uint32_t created_by_uid;
    uint32_t nr_map_ids;
    uint64_t map_ids;
    char name[16];
    uint32_t ifindex;
    uint32_t gpl_compatible;   /* a 1-bit field and 31 bits of padding in the UAPI header */
    uint64_t netns_dev;
    uint64_t netns_ino;
    uint32_t nr_jited_ksyms;
    uint32_t nr_jited_func_lens;
    uint64_t jited_ksyms;
    uint64_t jited_func_lens;
    uint32_t btf_id;
    uint32_t func_info_rec_size;
    uint64_t func_info;
    uint32_t nr_func_info;
    uint32_t nr_line_info;
    uint64_t line_info;
    uint64_t jited_line_info;
    uint32_t nr_jited_line_info;
    uint32_t line_info_rec_size;
    uint32_t jited_line_info_rec_size;
    uint32_t nr_prog_tags;
    uint64_t prog_tags;
    uint64_t run_time_ns;
    uint64_t run_cnt;
    uint64_t recursion_misses;
    uint32_t verified_insns;   /* Linux 5.16+; 0 from older kernels */
    uint32_t attach_btf_obj_id;
    uint32_t attach_btf_id;
    uint32_t pad_end;
};

/* va_list is passed as a pointer on x86-64 (and aarch64): void * here, handed to vsnprintf. */
typedef int (*libbpf_print_fn_t)(int level, const char *fmt, void *ap);
libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
uint32_t libbpf_major_version(void);
uint32_t libbpf_minor_version(void);
int libbpf_strerror(int err, char *buf, size_t size);
const char *libbpf_bpf_prog_type_str(int t);

struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz, const struct bpf_object_open_opts *opts);
int bpf_object__load(struct bpf_object *obj);
void bpf_object__close(struct bpf_object *obj);
struct bpf_program *bpf_object__next_program(const struct bpf_object *obj, struct bpf_program *prog);
struct bpf_map *bpf_object__next_map(const struct bpf_object *obj, const struct bpf_map *map);

const char *bpf_program__name(const struct bpf_program *prog);
const char *bpf_program__section_name(const struct bpf_program *prog);
int bpf_program__set_autoload(struct bpf_program *prog, bool autoload);
size_t bpf_program__insn_cnt(const struct bpf_program *prog);
int bpf_program__fd(const struct bpf_program *prog);
int bpf_program__type(const struct bpf_program *prog);
int bpf_program__set_log_level(struct bpf_program *prog, uint32_t log_level);
int bpf_program__set_log_buf(struct bpf_program *prog, char *log_buf, size_t log_size);

int bpf_map__set_pin_path(struct bpf_map *map, const char *path);

int bpf_obj_get_info_by_fd(int bpf_fd, void *info, uint32_t *info_len);

int vsnprintf(char *str, size_t size, const char *format, void *ap);
