// SPDX-License-Identifier: MIT
#include "main.h"

int main(int argc, char **argv)
{
	return cn_main(argc, argv, CN_ROLE_CLIENTNIC);
}
