# The virtual board's stand-ins (machine, network, socket, dht, the world) frozen into the
# 32-bit interpreter: on a board these are C, so freezing them makes the heap figure the
# firmware's own (bench_memory.py, station_fw_heap_kib_32bit_*_school).
for _m in ("world", "vclock", "vmachine", "vdht", "vnetwork", "vsocket", "pms_sim", "blockdev"):
    module(_m + ".py", base_path="../../host/airkit/vboard")
