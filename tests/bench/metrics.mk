# The MS-SSIM pair kernel is written as vector multiply-adds; ISO C mode
# forbids contracting them into fused instructions unless asked.  Predictive
# commoning would carry window inputs from one tap to the next through a
# stack slot, a store-to-load chain that halves the kernel's speed.
$(BUILD)/stages/ms_ssim.o: CFLAGS += -ffp-contract=fast -fno-predictive-commoning
