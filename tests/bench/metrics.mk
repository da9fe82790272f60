# The MS-SSIM pair kernel is written as vector multiply-adds; ISO C mode
# forbids contracting them into fused instructions unless asked.
$(BUILD)/stages/ms_ssim.o: CFLAGS += -ffp-contract=fast
