/* The command line: parses options and dispatches to the commands. */
#ifndef DFM_CLI_H
#define DFM_CLI_H

/* Runs dfmake with the given arguments; returns the process exit status. */
int dfm_main(int argc, char **argv);

#endif
