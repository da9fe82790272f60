/* Messages to the user.  dfm_log checks the level before formatting; every
 * message clears the live progress lines first so the two never mix. */
#ifndef DFM_LOG_H
#define DFM_LOG_H

enum dfm_level {
	DFM_QUIET,      /* errors only */
	DFM_INFO,       /* what runs and finishes (the default) */
	DFM_EXPLAIN,    /* and why each instance runs or is reused */
	DFM_DEBUG,
};

extern enum dfm_level dfm_log_level;

#define dfm_log(level, ...)                                  \
	do {                                                 \
		if ((level) <= dfm_log_level)                \
			dfm_log_print(__VA_ARGS__);          \
	} while (0)

/* Prints "dfmake: " and the message to stderr, as one line. */
void dfm_log_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints text indented by two spaces, at most the last max_lines lines. */
void dfm_log_tail(const char *text, int max_lines);

/* The live progress display.  On a terminal, one line per running
 * instance with elapsed time, fraction and ETA, redrawn in place;
 * otherwise an occasional plain line per instance. */
struct dfm_progress_line {
	const char *name;
	double elapsed, done, total;
};

void dfm_progress_init(int fd);
void dfm_progress_draw(const struct dfm_progress_line *lines, int n);
void dfm_progress_clear(void);

#endif
