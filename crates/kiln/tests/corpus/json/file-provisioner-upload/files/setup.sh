#!/bin/sh -eux
echo step
