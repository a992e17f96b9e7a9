"""scripts/sass_report.py on a small made-up listing in cuobjdump's format: the main loop is the
loop with the most tensor-core instructions (the tighter of two that hold the same), and the
counts are of that loop."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import sass_report  # noqa: E402

LISTING = """
	code for sm_90a
		Function : _Z6kernelv
	.headerflags	@"EF_CUDA_SM90"
        /*0000*/                   LDC R1, c[0x0][0x28] ;                 /* 0x0 */
                                                                          /* 0x0 */
        /*0010*/                   STL [R1], R2 ;                         /* 0x0 */
        /*0020*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4], R5 ;
        /*0030*/                   LDS R5, [R4+UR5] ;
        /*0040*/                   LDS.128 R8, [R4] ;
        /*0050*/                   HGMMA.64x64x16.F32 R24, R88, gdesc[UR16], R24 ;
        /*0060*/                   LDL R7, [R1] ;
        /*0070*/                   HGMMA.64x64x16.F32 R24, R92, gdesc[UR16], R24, gsb0 ;
        /*0080*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;
        /*0090*/              @!P0 BRA 0x20 ;
        /*00a0*/                   HMMA.16816.F32 R4, R8, R12, R4 ;
        /*00b0*/               @P1 BRA 0x0 ;
        /*00c0*/                   EXIT ;
		Function : _Z5otherv
        /*0000*/                   EXIT ;
	code for sm_80
		Function : _Z6kernelv
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   EXIT ;
"""


def main():
    kernels = sass_report.parse_sass(LISTING)
    assert sorted(kernels) == [("sm_80", "_Z6kernelv"), ("sm_90a", "_Z5otherv"),
                               ("sm_90a", "_Z6kernelv")], kernels
    body = kernels[("sm_90a", "_Z6kernelv")]
    assert len(body) == 13, body
    # predicates are dropped from the opcode
    assert body[9][1] == "BRA" and body[11][1] == "BRA", body
    # both loops hold tensor-core instructions: 0x0-0xb0 holds three, 0x20-0x90 two
    assert sass_report.main_loop(body) == (0x0, 0xb0), sass_report.main_loop(body)
    assert sass_report.main_loop(kernels[("sm_90a", "_Z5otherv")]) is None
    rows = {row[0]: row[1:] for row in sass_report.report_rows(kernels)}
    # instructions, loop, then mma, lds, ldsm, copies, waits, spills in the loop, spills
    assert rows[("sm_90a", "_Z6kernelv")] == [13, 12, 3, 2, 0, 0, 2, 2, 2], rows
    assert rows[("sm_90a", "_Z5otherv")] == [1, 0, 0, 0, 0, 0, 0, 0, 0], rows
    # the same name for another architecture is a kernel of its own
    assert rows[("sm_80", "_Z6kernelv")] == [2, 0, 0, 0, 0, 0, 0, 0, 0], rows
    assert [row[0] for row in sass_report.report_rows(kernels, "other")] == [
        ("sm_90a", "_Z5otherv")]
    # without the outer loop's branch, the inner loop is the main one
    inner = [entry for entry in body if entry[0] != 0xb0]
    assert sass_report.main_loop(inner) == (0x20, 0x90), sass_report.main_loop(inner)
    name = ("void marlin::kernels::large_batch::large_batch_kernel<marlin::kernels::dense::Format<"
            "(marlin::kernels::dense::Activation)1, (marlin::QuantScheme)2>, (int)64>("
            "marlin::kernels::dense::DenseParams, int, CUtensorMap_st)")
    assert sass_report.short_name(name) == "large_batch_kernel<bf16_int8, 64>", \
        sass_report.short_name(name)
    print("sass_report: ok")


if __name__ == "__main__":
    main()
