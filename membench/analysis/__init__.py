"""After the run: finished runs read back, their summary, paired comparisons, re-scoring."""
