"""The fault matrix: scenarios of the faults Azure has, run on the local stack (`make chaos`)."""
