"""`python -m builder.train ...` (what torchrun and accelerate launch): the training loop's own command line."""

from builder.train.loop import main

if __name__ == "__main__":
    main()
