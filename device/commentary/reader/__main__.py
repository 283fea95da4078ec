"""`python -m device.commentary.reader "LINE" ...`: print how each line is read."""

import sys

from device.commentary.reader import read

for line in sys.argv[1:]:
    print(read(line))
