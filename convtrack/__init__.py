"""convtrack: conversion attribution for creators' campaign links."""
