/* SPDX-License-Identifier: MIT */
/*
 * The command line shared by both programs: clientnic and servernic are
 * the same daemon in two roles, each a one-line entry calling cn_main().
 */
#ifndef CN_MAIN_H
#define CN_MAIN_H

#include "engine/engine.h"

/* Parse the command line for role, run the daemon; returns the exit
 * status (enum cn_exit). */
int cn_main(int argc, char **argv, enum cn_role role);

#endif
